DROP TABLE before_the_sleep;
