package tenant

// pageStrings holds every page string by language; a language without a
// translation falls back to English.
var pageStrings = map[string]map[string]string{
	"en": {
		"login": "Log in", "logout": "Log out", "register": "Register", "email": "Email",
		"password": "Password", "name": "Display name", "signed_in_as": "Signed in as",
		"not_found": "Not found", "not_found_text": "There is nothing at this address.",
		"bad_login":  "Wrong email or password.",
		"login_need": "Please log in first.",
		"boards":     "Boards", "threads": "Threads", "new_thread": "Start a thread", "title": "Title",
		"body": "Message", "reply": "Reply", "post": "Post", "search": "Search", "results": "Results",
		"no_threads": "No threads yet.", "hide": "Hide", "hidden": "hidden by a moderator",
		"products": "Products", "add_to_cart": "Add to cart", "cart": "Cart", "quantity": "Quantity",
		"total": "Total", "checkout": "Place order", "orders": "Orders", "empty_cart": "Your cart is empty.",
		"order": "Order", "no_orders": "No orders yet.", "price": "Price", "home": "Home",
		"attach": "Attach file", "reviews": "Reviews", "stars": "Stars", "review": "Write a review",
		"coupon": "Coupon code", "stock": "In stock",
	},
	"de": {
		"login": "Anmelden", "logout": "Abmelden", "register": "Registrieren", "email": "E-Mail",
		"password": "Passwort", "name": "Anzeigename", "signed_in_as": "Angemeldet als",
		"not_found": "Nicht gefunden", "not_found_text": "Unter dieser Adresse gibt es nichts.",
		"bad_login":  "E-Mail oder Passwort ist falsch.",
		"login_need": "Bitte melde dich zuerst an.",
		"boards":     "Foren", "threads": "Themen", "new_thread": "Neues Thema", "title": "Titel",
		"body": "Nachricht", "reply": "Antworten", "post": "Beitrag", "search": "Suche", "results": "Ergebnisse",
		"no_threads": "Noch keine Themen.", "hide": "Ausblenden", "hidden": "von der Moderation ausgeblendet",
		"products": "Produkte", "add_to_cart": "In den Warenkorb", "cart": "Warenkorb", "quantity": "Menge",
		"total": "Summe", "checkout": "Bestellen", "orders": "Bestellungen", "empty_cart": "Dein Warenkorb ist leer.",
		"order": "Bestellung", "no_orders": "Noch keine Bestellungen.", "price": "Preis", "home": "Start",
		"attach": "Datei anhängen", "reviews": "Bewertungen", "stars": "Sterne", "review": "Bewertung schreiben",
		"coupon": "Gutscheincode", "stock": "Auf Lager",
	},
}

// T returns a page string in lang.
func T(lang, key string) string {
	if s, ok := pageStrings[lang][key]; ok {
		return s
	}
	if s, ok := pageStrings["en"][key]; ok {
		return s
	}
	return key
}
