"""``kit web``: the same Textual app in a browser (textual-serve), behind a login tied to the
kit's viewer/technician/admin roles. See docs/web.md."""
