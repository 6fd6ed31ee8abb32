package tenant

// PageStrings lets the external tests compare the languages' key sets.
var PageStrings = pageStrings
