import Foundation

extension NewAgent {
    /// Returns the input with text trimmed, or throws the first invalid field.
    public func validated() throws -> NewAgent {
        var input = self
        input.name = try Validation.requiredText(name, field: "name", maxLength: Validation.maxNameLength)
        input.email = try Validation.email(email)
        input.maxConcurrent = try Validation.maxConcurrent(maxConcurrent)
        return input
    }
}

extension AgentChanges {
    /// Returns the changes with text trimmed, or throws the first invalid field.
    public func validated() throws -> AgentChanges {
        var changes = self
        changes.name = try Validation.optionalText(name, field: "name", maxLength: Validation.maxNameLength)
        changes.email = try Validation.email(email)
        changes.maxConcurrent = try maxConcurrent.map(Validation.maxConcurrent)
        return changes
    }
}

extension Agent {
    /// A new agent from validated input, with its `agent.created` event.
    public static func make(_ input: NewAgent, id: String, now: Date) -> (Agent, [DomainEvent]) {
        let agent = Agent(
            id: id,
            name: input.name,
            email: input.email,
            role: input.role,
            status: input.status,
            maxConcurrent: input.maxConcurrent,
            createdAt: now,
            updatedAt: now
        )
        return (agent, [DomainEvent(type: .agentCreated, data: agent.eventData)])
    }

    /// Applies validated changes; returns `agent.updated` and, when the status moved, `agent.status_changed`.
    ///
    /// A change that alters nothing returns no events and leaves the version as it was.
    /// - Throws: `agent_deleted` (conflict) for a deleted agent.
    public mutating func apply(_ changes: AgentChanges, now: Date) throws -> [DomainEvent] {
        guard !isDeleted else { throw SwitchboardError.agentDeleted }
        let before = self
        name = changes.name ?? name
        email = changes.email ?? email
        role = changes.role ?? role
        status = changes.status ?? status
        maxConcurrent = changes.maxConcurrent ?? maxConcurrent
        guard self != before else { return [] }
        updatedAt = now
        version += 1
        var events = [DomainEvent(type: .agentUpdated, data: eventData)]
        if status != before.status {
            events.append(
                DomainEvent(
                    type: .agentStatusChanged,
                    data: .object([
                        "agent_id": .string(id),
                        "status": .string(status.rawValue),
                        "previous_status": .string(before.status.rawValue),
                        "timestamp": JSONValue(Int64(now.timeIntervalSince1970)),
                    ])
                )
            )
        }
        return events
    }

    /// Marks the agent deleted, leaving a tombstone; deleting twice changes nothing.
    public mutating func delete(now: Date) -> [DomainEvent] {
        guard !isDeleted else { return [] }
        deletedAt = now
        updatedAt = now
        status = .offline
        version += 1
        return [DomainEvent(type: .agentDeleted, data: eventData)]
    }

    var eventData: JSONValue {
        .object([
            "agent_id": .string(id),
            "name": .string(name),
            "email": JSONValue(email),
            "role": .string(role.rawValue),
            "status": .string(status.rawValue),
            "max_concurrent": JSONValue(Int64(maxConcurrent)),
        ])
    }
}

extension SwitchboardError {
    /// The agent was deleted and cannot change or take conversations.
    public static let agentDeleted = SwitchboardError(kind: .conflict, code: "agent_deleted", detail: "The agent was deleted.")
}
