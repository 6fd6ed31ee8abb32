-- A mistake on our side: the table it refers to exists in no version.
CREATE TABLE notes (id bigint PRIMARY KEY);
CREATE TABLE note_links (note_id bigint REFERENCES nowhere (id));
