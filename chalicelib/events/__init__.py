"""The CloudTrail event layer: parse a payload (`record`), find the resources it changed
(`table`, `route`), name the actor (`actor`). Import from the modules themselves."""
