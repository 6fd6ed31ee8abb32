DROP TABLE audit_log, usage_spans, instances, database_servers, modules,
    service_versions, services, api_sessions, users, accounts;
