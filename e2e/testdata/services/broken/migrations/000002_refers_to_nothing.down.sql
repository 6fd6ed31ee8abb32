DROP TABLE note_links;
DROP TABLE notes;
