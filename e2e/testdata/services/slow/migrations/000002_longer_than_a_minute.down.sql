DROP TABLE after_a_minute;
