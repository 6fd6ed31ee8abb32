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
	"fr": {
		"login": "Se connecter", "logout": "Se déconnecter", "register": "Créer un compte", "email": "E-mail",
		"password": "Mot de passe", "name": "Nom affiché", "signed_in_as": "Connecté en tant que",
		"not_found": "Page introuvable", "not_found_text": "Il n'y a rien à cette adresse.",
		"bad_login":  "E-mail ou mot de passe incorrect.",
		"login_need": "Veuillez d'abord vous connecter.",
		"boards":     "Forums", "threads": "Discussions", "new_thread": "Nouvelle discussion", "title": "Titre",
		"body": "Message", "reply": "Répondre", "post": "Publier", "search": "Rechercher", "results": "Résultats",
		"no_threads": "Aucune discussion pour l'instant.", "hide": "Masquer", "hidden": "masqué par la modération",
		"products": "Produits", "add_to_cart": "Ajouter au panier", "cart": "Panier", "quantity": "Quantité",
		"total": "Total", "checkout": "Passer la commande", "orders": "Commandes", "empty_cart": "Votre panier est vide.",
		"order": "Commande", "no_orders": "Aucune commande pour l'instant.", "price": "Prix", "home": "Accueil",
		"attach": "Joindre un fichier", "reviews": "Avis", "stars": "Étoiles", "review": "Donner votre avis",
		"coupon": "Code promo", "stock": "En stock",
	},
	"es": {
		"login": "Iniciar sesión", "logout": "Cerrar sesión", "register": "Crear una cuenta", "email": "Correo electrónico",
		"password": "Contraseña", "name": "Nombre visible", "signed_in_as": "Sesión iniciada como",
		"not_found": "No encontrado", "not_found_text": "No hay nada en esta dirección.",
		"bad_login":  "El correo electrónico o la contraseña no son correctos.",
		"login_need": "Primero inicia sesión.",
		"boards":     "Foros", "threads": "Temas", "new_thread": "Nuevo tema", "title": "Título",
		"body": "Mensaje", "reply": "Responder", "post": "Publicar", "search": "Buscar", "results": "Resultados",
		"no_threads": "Todavía no hay temas.", "hide": "Ocultar", "hidden": "ocultado por la moderación",
		"products": "Productos", "add_to_cart": "Añadir al carrito", "cart": "Carrito", "quantity": "Cantidad",
		"total": "Total", "checkout": "Realizar el pedido", "orders": "Pedidos", "empty_cart": "Tu carrito está vacío.",
		"order": "Pedido", "no_orders": "Todavía no hay pedidos.", "price": "Precio", "home": "Inicio",
		"attach": "Adjuntar un archivo", "reviews": "Reseñas", "stars": "Estrellas", "review": "Escribir una reseña",
		"coupon": "Código de descuento", "stock": "En existencias",
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
