"""The stack's configuration: validated (settings.py) and where the image comes from (image_source.py).

Not a component: pure Python the program runs before it registers anything.
"""
