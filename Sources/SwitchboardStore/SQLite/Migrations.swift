import CSQLite

/// The schema, as an ordered list of migrations. Append only: never edit a released step.
enum Migrations {
    static let steps: [(version: Int, sql: String)] = [
        (
            1,
            """
            CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                last_seq INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                name TEXT NOT NULL,
                prefix TEXT NOT NULL,
                secret_hash TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL,
                last_used_at INTEGER,
                revoked_at INTEGER
            );
            CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, id);
            CREATE TABLE agents (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                name TEXT NOT NULL,
                email TEXT,
                role TEXT NOT NULL,
                status TEXT NOT NULL,
                max_concurrent INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                deleted_at INTEGER,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX agents_by_status ON agents(tenant_id, status, id);
            CREATE TABLE visitors (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                external_id TEXT,
                name TEXT,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE UNIQUE INDEX visitors_by_external_id ON visitors(tenant_id, external_id) WHERE external_id IS NOT NULL;
            CREATE TABLE conversations (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                visitor_id TEXT NOT NULL,
                agent_id TEXT,
                status TEXT NOT NULL,
                channel TEXT NOT NULL,
                subject TEXT,
                metadata TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                ended_at INTEGER,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX conversations_by_status ON conversations(tenant_id, status, id);
            CREATE INDEX conversations_by_agent ON conversations(tenant_id, agent_id, id);
            CREATE INDEX conversations_by_visitor ON conversations(tenant_id, visitor_id, id);
            CREATE TABLE messages (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                conversation_id TEXT NOT NULL,
                sender TEXT NOT NULL,
                recipient TEXT,
                content TEXT NOT NULL,
                content_type TEXT NOT NULL,
                client_message_id TEXT,
                timestamp INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                edited_at INTEGER,
                deleted_at INTEGER,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX messages_by_conversation ON messages(tenant_id, conversation_id, id);
            CREATE UNIQUE INDEX messages_by_client_id ON messages(tenant_id, conversation_id, client_message_id)
                WHERE client_message_id IS NOT NULL;
            CREATE TABLE events (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                type TEXT NOT NULL,
                version INTEGER NOT NULL,
                timestamp INTEGER NOT NULL,
                data TEXT NOT NULL,
                UNIQUE (tenant_id, seq)
            );
            CREATE TABLE consumer_cursors (
                consumer TEXT PRIMARY KEY,
                position INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE idempotency_keys (
                tenant_id TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status INTEGER NOT NULL,
                body BLOB NOT NULL,
                version INTEGER,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, key)
            ) WITHOUT ROWID;
            CREATE INDEX idempotency_keys_by_age ON idempotency_keys(created_at);
            """
        ),
        (
            2,
            """
            CREATE TABLE integrations (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                plugin_id TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                config TEXT NOT NULL,
                cursor_seq INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, plugin_id)
            ) WITHOUT ROWID;
            CREATE TABLE plugin_values (
                tenant_id TEXT NOT NULL,
                plugin_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, plugin_id, key)
            ) WITHOUT ROWID;
            """
        ),
        (
            3,
            """
            CREATE TABLE webhooks (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                description TEXT,
                timeout_ms INTEGER NOT NULL,
                max_in_flight INTEGER NOT NULL,
                enabled INTEGER NOT NULL,
                disabled_reason TEXT,
                secret TEXT NOT NULL,
                previous_secret TEXT,
                previous_until INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE TABLE webhook_deliveries (
                position INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                tenant_id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                event_id TEXT,
                event_type TEXT NOT NULL,
                seq INTEGER,
                replay INTEGER NOT NULL,
                status TEXT NOT NULL,
                next_attempt_at INTEGER,
                created_at INTEGER NOT NULL,
                payload BLOB NOT NULL
            );
            CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, position) WHERE status = 'pending';
            CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, position);
            CREATE UNIQUE INDEX webhook_deliveries_live ON webhook_deliveries(webhook_id, event_id) WHERE replay = 0 AND event_id IS NOT NULL;
            CREATE TABLE webhook_attempts (
                delivery_id TEXT NOT NULL,
                at INTEGER NOT NULL,
                status_code INTEGER,
                latency_ms INTEGER NOT NULL,
                error TEXT,
                response_body TEXT
            );
            CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery_id);
            """
        ),
        (
            4,
            """
            ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';
            ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
            ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
            ALTER TABLE api_keys ADD COLUMN rate_limit INTEGER;
            ALTER TABLE tenants ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
            ALTER TABLE tenants ADD COLUMN rate_limit INTEGER;
            CREATE TABLE audit_events (
                id TEXT PRIMARY KEY,
                tenant_id TEXT,
                occurred_at INTEGER NOT NULL,
                action TEXT NOT NULL,
                actor TEXT NOT NULL,
                actor_method TEXT,
                target TEXT,
                client_ip TEXT,
                success INTEGER NOT NULL,
                detail TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX audit_events_by_tenant ON audit_events(tenant_id, action, id);
            """
        ),
        (
            5,
            """
            CREATE TABLE oauth_clients (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                name TEXT NOT NULL,
                secret_hash TEXT NOT NULL,
                scopes TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX oauth_clients_by_tenant ON oauth_clients(tenant_id, id);
            CREATE TABLE signing_keys (
                id TEXT PRIMARY KEY,
                private_key TEXT NOT NULL,
                created_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE revoked_tokens (
                id TEXT PRIMARY KEY,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            """
        ),
        (
            6,
            """
            CREATE TABLE token_issuers (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                issuer TEXT NOT NULL UNIQUE,
                audience TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret TEXT,
                jwks_url TEXT,
                algorithms TEXT NOT NULL,
                default_role TEXT NOT NULL,
                created_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX token_issuers_by_tenant ON token_issuers(tenant_id, id);
            """
        ),
        (
            7,
            """
            CREATE TABLE signature_keys (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                api_key_id TEXT NOT NULL REFERENCES api_keys(id),
                algorithm TEXT NOT NULL,
                material TEXT NOT NULL,
                created_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX signature_keys_by_api_key ON signature_keys(api_key_id, id);
            """
        ),
        (
            8,
            """
            ALTER TABLE token_issuers RENAME COLUMN jwks_url TO url;
            ALTER TABLE token_issuers ADD COLUMN client_id TEXT;
            """
        ),
        (
            9,
            """
            CREATE TABLE stats_hourly (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                type TEXT NOT NULL,
                hour INTEGER NOT NULL,
                agent TEXT NOT NULL,
                category TEXT NOT NULL,
                channel TEXT NOT NULL,
                slots BLOB NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, type, hour, agent, category, channel)
            ) WITHOUT ROWID;
            CREATE INDEX stats_hourly_by_position ON stats_hourly(tenant_id, type, position);
            CREATE TABLE stats_conversations (
                tenant_id TEXT NOT NULL,
                conversation_id TEXT NOT NULL,
                visitor_id TEXT NOT NULL,
                agent TEXT NOT NULL,
                category TEXT NOT NULL,
                channel TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                responded_at INTEGER,
                ended_at INTEGER,
                has_ticket INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, conversation_id)
            ) WITHOUT ROWID;
            CREATE TABLE stats_pushed (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                type TEXT NOT NULL,
                day INTEGER NOT NULL,
                agent TEXT NOT NULL,
                category TEXT NOT NULL,
                channel TEXT NOT NULL,
                metrics TEXT NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, type, day, agent, category, channel)
            ) WITHOUT ROWID;
            """
        ),
        (
            10,
            """
            CREATE TABLE stats_sink_cursors (
                tenant_id TEXT NOT NULL,
                plugin_id TEXT NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, plugin_id)
            ) WITHOUT ROWID;
            """
        ),
        (
            11,
            """
            CREATE TABLE customers (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                name TEXT,
                phone TEXT,
                phone_key TEXT,
                email TEXT,
                level TEXT,
                tags TEXT NOT NULL,
                source TEXT NOT NULL,
                external_id TEXT,
                visitor_ids TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX customers_by_phone ON customers(tenant_id, phone_key, id);
            CREATE INDEX customers_by_level ON customers(tenant_id, level, id);
            CREATE TABLE customer_tags (
                tenant_id TEXT NOT NULL,
                tag TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                PRIMARY KEY (tenant_id, tag, customer_id)
            ) WITHOUT ROWID;
            CREATE TABLE customer_visitors (
                tenant_id TEXT NOT NULL,
                visitor_id TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                PRIMARY KEY (tenant_id, visitor_id, customer_id)
            ) WITHOUT ROWID;
            CREATE TABLE orders (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                amount REAL NOT NULL,
                currency TEXT,
                status TEXT NOT NULL,
                create_time INTEGER NOT NULL,
                source TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX orders_by_customer ON orders(tenant_id, customer_id, id);
            CREATE TABLE tickets (
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                id TEXT NOT NULL,
                title TEXT NOT NULL,
                content TEXT NOT NULL,
                priority TEXT NOT NULL,
                category TEXT,
                status TEXT NOT NULL,
                handler TEXT,
                conversation_id TEXT,
                customer_id TEXT,
                external TEXT,
                created_at INTEGER NOT NULL,
                update_time INTEGER NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, id)
            ) WITHOUT ROWID;
            CREATE INDEX tickets_by_status ON tickets(tenant_id, status, id);
            CREATE INDEX tickets_by_conversation ON tickets(tenant_id, conversation_id, id);
            CREATE INDEX tickets_by_customer ON tickets(tenant_id, customer_id, id);
            """
        ),
        (
            12,
            // Tenants may trust the same identity provider: what is unique is the issuer with an audience,
            // which binds a token to one tenant.
            """
            CREATE TABLE token_issuers_new (
                id TEXT PRIMARY KEY,
                tenant_id TEXT NOT NULL REFERENCES tenants(id),
                issuer TEXT NOT NULL,
                audience TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret TEXT,
                url TEXT,
                algorithms TEXT NOT NULL,
                default_role TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                client_id TEXT,
                UNIQUE (issuer, audience)
            ) WITHOUT ROWID;
            INSERT INTO token_issuers_new
                SELECT id, tenant_id, issuer, audience, kind, secret, url, algorithms, default_role, created_at, client_id FROM token_issuers;
            DROP TABLE token_issuers;
            ALTER TABLE token_issuers_new RENAME TO token_issuers;
            CREATE INDEX token_issuers_by_tenant ON token_issuers(tenant_id, id);
            """
        ),
        (
            13,
            // What retention deletes by age, oldest first.
            """
            CREATE INDEX audit_events_by_age ON audit_events(occurred_at);
            CREATE INDEX webhook_deliveries_finished_by_age ON webhook_deliveries(created_at) WHERE status != 'pending';
            CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens(expires_at);
            """
        ),
        (
            14,
            """
            CREATE TABLE parked_events (
                tenant_id TEXT NOT NULL,
                plugin_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                type TEXT NOT NULL,
                error TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                parked_at INTEGER NOT NULL,
                PRIMARY KEY (tenant_id, plugin_id, seq)
            ) WITHOUT ROWID;
            CREATE INDEX parked_events_by_age ON parked_events(parked_at);
            """
        ),
        (
            15,
            // The nonces of signed requests, kept until they expire so that a request cannot be replayed,
            // on whichever server of a cluster it arrives.
            """
            CREATE TABLE signature_nonces (
                key_id TEXT NOT NULL,
                nonce TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (key_id, nonce)
            ) WITHOUT ROWID;
            CREATE INDEX signature_nonces_by_expiry ON signature_nonces(expires_at);
            """
        ),
        (
            16,
            // The servers sharing the database, each with its last heartbeat and the leases it held then, and
            // which of them have WebSocket connections of each agent.
            """
            CREATE TABLE cluster_nodes (
                id TEXT PRIMARY KEY,
                address TEXT NOT NULL,
                started_at INTEGER NOT NULL,
                heartbeat_at INTEGER NOT NULL,
                leases TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE realtime_presence (
                node_id TEXT NOT NULL,
                tenant_id TEXT NOT NULL,
                subject TEXT NOT NULL,
                PRIMARY KEY (tenant_id, subject, node_id)
            ) WITHOUT ROWID;
            """
        ),
        (
            17,
            // The zone in which a tenant's external systems write wall-clock times ("2023-10-26 12:00:00"), the
            // external time of a ticket's last status sync, and a counter of settings writes (which a server
            // on the same file watches to hear of a CLI's).
            """
            ALTER TABLE tenants ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
            ALTER TABLE tickets ADD COLUMN synced_at INTEGER;
            CREATE TABLE settings_generation (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL);
            """
        ),
    ]

    /// The schema version after every step ran.
    static var latestVersion: Int { steps.last?.version ?? 0 }

    /// The database's schema version, checked to be one this build can serve or migrate.
    /// - Throws: `SQLiteError` for a version above `latestVersion` (a downgrade) or below 0, naming
    ///   both versions.
    static func checkVersion(on connection: SQLiteConnection) throws -> Int {
        let current = try connection.queryFirst("PRAGMA user_version") { $0.int(0) } ?? 0
        guard (0...latestVersion).contains(current) else {
            throw SQLiteError(
                code: SQLITE_MISMATCH,
                message: "the database is at schema version \(current), not one this build knows (up to \(latestVersion)): run the newer build, or restore a backup of this version"
            )
        }
        return current
    }

    /// Runs every step newer than the database's `user_version`, each in its own transaction.
    /// - Returns: the versions applied now.
    /// - Throws: `SQLiteError` for a database of a newer schema than this build knows (a downgrade),
    ///   naming both versions, before anything is written.
    @discardableResult
    static func run(on connection: SQLiteConnection) throws -> [Int] {
        let current = try checkVersion(on: connection)
        var applied: [Int] = []
        for step in steps where step.version > current {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(step.sql)
                try connection.execute("PRAGMA user_version = \(step.version)")
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
            applied.append(step.version)
        }
        return applied
    }
}
