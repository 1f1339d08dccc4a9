"""The app's layout in Textual CSS: it fits 80x24, and everything grows on larger terminals."""

APP_CSS = """
#main { height: 1fr; }
#live { width: 1fr; min-width: 30; border: round $accent; padding: 0 1; }
#side { width: 40%; min-width: 30; }
#caption { text-style: bold; width: 1fr; }
#status { color: $text-muted; width: 1fr; }
#notice { color: $warning; width: 1fr; display: none; }
#preview { height: 1fr; width: 1fr; }
#history, #results, #log { height: 1fr; border: round $secondary; }
#history:focus-within, #results:focus-within, #log:focus { border: round $accent; }
#results { display: none; }
#history Label, #results Label { width: 1fr; }
#search { dock: bottom; margin-bottom: 1; }  /* above the footer's second row (the first hides its lower edge) */
AttentionScreen, SettingsScreen { align: center middle; }
.dialog { width: 90%; max-width: 90; height: auto; max-height: 100%; border: thick $accent; background: $surface;
          padding: 0 1; }
.row { height: 1; }
.row .name { width: 34; }
.row Input { width: 1fr; }
#speech-state { width: 4; margin-left: 1; }
#watch { height: 4; }
#settings-error { color: $error; text-style: bold; width: 1fr; }
/* A focus anyone can see (issue 28: the focused field differed from the rest by one grey step). */
Input:focus, Switch:focus, TextArea:focus { background: $accent 40%; text-style: bold; }
ListView:focus > ListItem.-highlight { background: $accent; text-style: bold reverse; }
"""
