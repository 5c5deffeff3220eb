"""
Email messages the site sends to lists (newsletters, digests), built with
Django's email API. Imports no app.
"""
