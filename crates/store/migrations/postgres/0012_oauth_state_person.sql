-- An authorize state started from the console belongs to the person who clicked
-- Connect: the callback must come back in that person's signed-in browser.
-- States started with an API key have none. Keep in step with migrations/sqlite.
ALTER TABLE oauth_states ADD COLUMN user_id uuid REFERENCES users(id) ON DELETE CASCADE;
