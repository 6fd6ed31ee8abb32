DROP TABLE rollout_instances;
DROP TABLE rollouts;
