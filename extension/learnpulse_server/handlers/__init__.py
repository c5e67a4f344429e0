"""One module per service; each exports ``handlers``, a list of (route, handler class)."""
