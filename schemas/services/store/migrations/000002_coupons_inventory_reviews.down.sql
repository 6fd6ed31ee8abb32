DROP TABLE reviews, coupons;
ALTER TABLE products DROP COLUMN stock;
