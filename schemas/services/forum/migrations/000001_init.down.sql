DROP TABLE member_sessions, posts, threads, boards, members, tenant_settings;
