"""
The public pages as every reader gets them: how long anyone may keep a copy
(middleware), the generation that changes with what readers see and the purge of
shared caches in front of the site (generation, purge), and the check that
protects public forms from cross-site posts without a per-reader token
(crossorigin); their addresses as written in feeds and emails (addresses).
Imports no app.
"""
