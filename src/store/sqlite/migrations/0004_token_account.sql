-- The account OAuth tokens belong to (the mapping's auth.oauth2.account): the pinned account.
ALTER TABLE oauth_token ADD COLUMN account TEXT;
