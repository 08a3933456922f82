-- The worker list (`GET /v1/workers`): accounts that claimed a task, most tasks completed first, paged by
-- keyset on (tasks_completed, address). A partial index in that order keeps each page an index range scan.

CREATE INDEX accounts_worker_list ON accounts (tasks_completed DESC, address) WHERE tasks_claimed > 0;
