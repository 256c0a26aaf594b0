-- Who made each change in admin_audit (src/admin/audit.ts): `admin` (the operator's
-- ADMIN_TOKEN), or `shop:<the first 8 hex characters of SHA-256 of the shop's key>` for a
-- booking the shop cancelled: which of SHOP_API_KEYS asked, never the key. Rows from before
-- this were all the operator's.
ALTER TABLE admin_audit ADD COLUMN actor text NOT NULL DEFAULT 'admin';
ALTER TABLE admin_audit ALTER COLUMN actor DROP DEFAULT;
