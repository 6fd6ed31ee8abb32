DROP TABLE broker_bindings;
DROP TABLE broker_instances;
DROP TABLE broker_credentials;
