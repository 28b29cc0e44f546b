/// Typed reads of a node's attributes with the ONNX defaults, and of its optional inputs.
/// A wrong attribute type is an error that names the node, never a silent default.
extension GraphNode {
    func intAttribute(_ name: String, default value: Int) throws(CompilerError) -> Int {
        switch attributes[name] {
        case nil: return value
        case .int(let found)?:
            guard let converted = Int(exactly: found), abs(converted) < 1 << 40 else {
                throw .unsupportedAttribute(node: label, attribute: name, reason: "is \(found), out of range")
            }
            return converted
        case let other?:
            throw .unsupportedAttribute(node: label, attribute: name, reason: "must be an integer, found \(other)")
        }
    }

    func floatAttribute(_ name: String, default value: Float) throws(CompilerError) -> Float {
        switch attributes[name] {
        case nil: return value
        case .float(let found)?: return found
        case .int(let found)?: return Float(found)
        case let other?:
            throw .unsupportedAttribute(node: label, attribute: name, reason: "must be a float, found \(other)")
        }
    }

    /// nil when the attribute is absent.
    func intsAttribute(_ name: String) throws(CompilerError) -> [Int]? {
        switch attributes[name] {
        case nil: return nil
        case .ints(let found)?:
            var values: [Int] = []
            for value in found {
                guard let converted = Int(exactly: value), abs(converted) < 1 << 40 else {
                    throw .unsupportedAttribute(node: label, attribute: name, reason: "holds \(value), out of range")
                }
                values.append(converted)
            }
            return values
        case let other?:
            throw .unsupportedAttribute(node: label, attribute: name, reason: "must be a list of integers, found \(other)")
        }
    }

    func stringAttribute(_ name: String, default value: String) throws(CompilerError) -> String {
        switch attributes[name] {
        case nil: return value
        case .string(let found)?: return found
        case let other?:
            throw .unsupportedAttribute(node: label, attribute: name, reason: "must be a string, found \(other)")
        }
    }

    /// The name of input `index`, or nil when it is absent or left empty (an omitted optional input).
    func optionalInput(_ index: Int) -> String? {
        index < inputs.count && !inputs[index].isEmpty ? inputs[index] : nil
    }

    func requiredInput(_ index: Int, _ role: String) throws(CompilerError) -> String {
        guard let name = optionalInput(index) else {
            throw .invalidModel("\(label) lacks its input \(index + 1) (\(role))")
        }
        return name
    }

    /// Rejects attributes whose non-default values the compiler does not implement.
    func requireAttribute(_ name: String, in allowed: Set<Int>, default value: Int, reason: String) throws(CompilerError) {
        let found = try intAttribute(name, default: value)
        guard allowed.contains(found) else {
            throw .unsupportedAttribute(node: label, attribute: name, reason: "= \(found): \(reason)")
        }
    }
}
