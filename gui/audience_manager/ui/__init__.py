"""Everything PySide6: the main window, panels, dialogs, item models and the job adapter."""
