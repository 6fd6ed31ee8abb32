DROP TABLE note_links;
