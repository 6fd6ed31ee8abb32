DROP TABLE cart_items, customer_sessions, order_lines, orders, products, customers, tenant_settings;
