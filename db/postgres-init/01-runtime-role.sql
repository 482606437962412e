-- docker-compose only (mounted into /docker-entrypoint-initdb.d, run once on a fresh volume): the runtime role
-- that api and control connect as. The migrate service, as the owner, grants it its privileges (libs/db/runtime-role.ts).
CREATE ROLE mlis_app LOGIN PASSWORD 'mlis_app';
