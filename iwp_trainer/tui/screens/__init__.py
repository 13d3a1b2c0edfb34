"""One screen per activity: Ask, Browse, Practise (and playing), Progress, Problems."""
