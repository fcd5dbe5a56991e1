-- Runs once, when the compose Postgres volume is first created. Each service would also create
-- its own database at start (docs/configuration.md); creating them here lets a service start
-- with a role that may not create databases.
CREATE DATABASE paymsa_order;
CREATE DATABASE paymsa_catalog;
CREATE DATABASE paymsa_wallet;
CREATE DATABASE paymsa_seller;
CREATE DATABASE paymsa_hot_catalog;
CREATE DATABASE paymsa_review;
CREATE DATABASE paymsa_like;
CREATE DATABASE paymsa_order_query;
CREATE DATABASE paymsa_psp;
