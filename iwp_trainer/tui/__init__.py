"""The Textual app: it presents the core modules and holds no policy or scoring logic."""
