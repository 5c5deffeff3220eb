"""
Text from editors and readers made safe: single-line fields refuse control
characters (validators), HTML keeps only an allow-list (sanitizer). Imports no app.
"""
