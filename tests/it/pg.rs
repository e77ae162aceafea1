//! PostgreSQL for the tests that need it: the test database (`MAPSYNC_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and a schema of the test's own, dropped when the
//! test ends, however it ends.

/// The database the tests make their schemas in.
pub fn test_url() -> String {
    std::env::var("MAPSYNC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema name in the test database; the schema is dropped with this value.
pub struct Schema {
    pub name: String,
}

impl Schema {
    /// A new, unused name (`it_…`); mapsync creates the schema when it opens the store.
    pub fn new() -> Schema {
        Schema {
            name: format!("it_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The state URL of a store in this schema.
    pub fn url(&self) -> String {
        format!("{}?schema={}", test_url(), self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let url = test_url();
        // A thread of its own, so this works inside a test's runtime as well as outside one.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(conn);
                client.batch_execute(&sql).await.ok()
            })
        })
        .join();
    }
}
