-- The demo shop's catalog, loaded by `footfall seed-demo` (make up, tests),
-- never by migrate. Re-running it restores these rows.
INSERT INTO promotions (site_id, id, title, url, image, keywords, categories, priority, is_default) VALUES
  ('demo', 'humidifier-deal', 'Ultrasonic humidifier: 30% off this week', '/demo/search.html?q=humidifier', '/demo/img/humidifier.svg', '{humidifier,"mist maker",humidity}', '{home-climate}', 10, false),
  ('demo', 'humidifier-filters', 'Humidifier filters: buy 2 get 1 free', '/demo/search.html?q=humidifier+filter', '/demo/img/filter.svg', '{humidifier,"humidifier filter",filter}', '{home-climate}', 5, false),
  ('demo', 'kettle-deal', 'Electric kettles from 19.99', '/demo/search.html?q=kettle', '/demo/img/kettle.svg', '{kettle,"tea kettle"}', '{kitchen}', 10, false),
  ('demo', 'fan-deal', 'Quiet tower fans: free delivery', '/demo/search.html?q=fan', '/demo/img/fan.svg', '{fan,"tower fan",cooling}', '{home-climate}', 10, false),
  ('demo', 'blanket-deal', 'Wool blankets: winter sale', '/demo/search.html?q=blanket', '/demo/img/blanket.svg', '{blanket,throw,wool}', '{bedroom}', 10, false),
  ('demo', 'welcome', 'Welcome! 10% off your first order', '/demo/index.html', '/demo/img/welcome.svg', '{}', '{}', 100, true),
  ('demo', 'free-shipping', 'Free shipping over 50', '/demo/index.html', '/demo/img/shipping.svg', '{}', '{}', 50, true)
ON CONFLICT (site_id, id) DO UPDATE SET
  title = EXCLUDED.title, url = EXCLUDED.url, image = EXCLUDED.image,
  keywords = EXCLUDED.keywords, categories = EXCLUDED.categories,
  priority = EXCLUDED.priority, is_default = EXCLUDED.is_default,
  starts_at = NULL, ends_at = NULL, updated_at = now();

-- The demo shop's rules: a synonym shoppers use, and its product pages'
-- categories (sdk-js/demo/shop.js).
INSERT INTO synonyms (site_id, term, synonyms) VALUES
  ('demo', 'humidifier', '{"air moisturiser","air moisturizer"}')
ON CONFLICT (site_id, term) DO UPDATE SET synonyms = EXCLUDED.synonyms
  WHERE synonyms.synonyms IS DISTINCT FROM EXCLUDED.synonyms;
INSERT INTO product_categories (site_id, page, categories) VALUES
  ('demo', '/demo/product.html?id=mist-humidifier', '{home-climate}'),
  ('demo', '/demo/product.html?id=aroma-humidifier', '{home-climate}'),
  ('demo', '/demo/product.html?id=tower-fan', '{home-climate}'),
  ('demo', '/demo/product.html?id=desk-fan', '{home-climate}'),
  ('demo', '/demo/product.html?id=steel-kettle', '{kitchen}'),
  ('demo', '/demo/product.html?id=glass-kettle', '{kitchen}'),
  ('demo', '/demo/product.html?id=wool-blanket', '{bedroom}'),
  ('demo', '/demo/product.html?id=fleece-blanket', '{bedroom}')
ON CONFLICT (site_id, page) DO UPDATE SET categories = EXCLUDED.categories
  WHERE product_categories.categories IS DISTINCT FROM EXCLUDED.categories;
