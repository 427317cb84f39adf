import Foundation

extension NewVisitor {
    /// Returns the input with text trimmed, or throws the first invalid field.
    public func validated() throws -> NewVisitor {
        NewVisitor(
            externalID: try Validation.optionalText(externalID, field: "external_id", maxLength: Validation.maxExternalIDLength),
            name: try Validation.optionalText(name, field: "name", maxLength: Validation.maxNameLength)
        )
    }
}

extension SwitchboardError {
    /// Another visitor of the tenant already has this external id.
    public static let visitorExists = SwitchboardError(
        kind: .conflict,
        code: "visitor_exists",
        detail: "A visitor with this external_id already exists.",
        field: "external_id"
    )
}
