DROP TABLE posts, threads, boards, members, tenant_settings;
