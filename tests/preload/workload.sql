-- workload.sql - a SQLite workout for the preload suite:
--   sqlite3 test.db < workload.sql
-- Tables, ~100k rows inserted in one transaction, indexes, joins, GROUP BY,
-- window functions, a JSON aggregate.  Every value comes from arithmetic on
-- the row number, so the output is deterministic; every query has an ORDER BY.
.bail on
.headers on
.mode list
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -20000;

CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, since INTEGER);
CREATE TABLE product (id INTEGER PRIMARY KEY, title TEXT NOT NULL, price REAL NOT NULL, cat TEXT);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id),
                     product INTEGER REFERENCES product(id), qty INTEGER, day INTEGER, note TEXT);

BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO customer SELECT i, 'cust' || printf('%05d', (i * 7919) % 100000),
       'city' || (i % 37), 2000 + (i * 31) % 24 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800)
INSERT INTO product SELECT i, 'product ' || hex(i * 2654435761 % 1000003),
       ((i * 97) % 10000) / 100.0, 'cat' || (i % 13) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO orders SELECT i, 1 + (i * 7907) % 5000, 1 + (i * 104729) % 800, 1 + i % 9,
       (i * 13) % 365, substr('lorem ipsum dolor sit amet consectetur adipiscing elit', 1 + i % 40, 5 + i % 17)
FROM n;
COMMIT;

CREATE INDEX orders_customer ON orders(customer);
CREATE INDEX orders_product_day ON orders(product, day);
CREATE INDEX customer_city ON customer(city, name);

SELECT count(*) AS orders, sum(qty) AS units, min(day), max(day) FROM orders;

SELECT c.city, count(*) AS n, sum(o.qty * p.price) AS revenue
FROM orders o JOIN customer c ON c.id = o.customer JOIN product p ON p.id = o.product
GROUP BY c.city ORDER BY revenue DESC, c.city LIMIT 10;

SELECT p.cat, count(DISTINCT o.customer) AS buyers, round(avg(o.qty), 4) AS avg_qty
FROM orders o JOIN product p ON p.id = o.product
GROUP BY p.cat HAVING buyers > 100 ORDER BY p.cat;

SELECT name, total, rnk FROM (
  SELECT c.name, sum(o.qty) AS total, rank() OVER (ORDER BY sum(o.qty) DESC, c.name) AS rnk
  FROM customer c JOIN orders o ON o.customer = c.id GROUP BY c.id)
WHERE rnk <= 8 ORDER BY rnk;

SELECT day, n, sum(n) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS week
FROM (SELECT day, count(*) AS n FROM orders GROUP BY day) ORDER BY day LIMIT 12;

UPDATE orders SET note = upper(note) || '!' WHERE id % 3 = 0;
DELETE FROM orders WHERE qty = 9 AND day % 2 = 1;
SELECT count(*), sum(length(note)), group_concat(DISTINCT substr(note, 1, 3)) FROM
  (SELECT note FROM orders ORDER BY note LIMIT 200);

SELECT json_group_array(json_object('id', id, 'title', title, 'price', price)) FROM
  (SELECT * FROM product WHERE cat = 'cat7' ORDER BY id LIMIT 5);

CREATE TABLE summary AS SELECT customer, group_concat(product, ',') AS products
FROM (SELECT customer, product FROM orders ORDER BY customer, id) GROUP BY customer;
SELECT count(*), sum(length(products)), max(length(products)) FROM summary;
SELECT customer, substr(products, 1, 40) FROM summary ORDER BY length(products) DESC, customer LIMIT 3;
PRAGMA integrity_check;
VACUUM;
SELECT count(*) FROM orders;
