import Foundation
import Model
import NIOCore

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A parsed XML element: enough of a DOM to read S3's small response
/// documents (errors, listings, multipart results).
struct S3XMLElement: Sendable {
    var name: String
    /// The element's own text, concatenated.
    var text: String
    var children: [S3XMLElement]

    /// The first child named `name`.
    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }

    /// Every child named `name`, in document order.
    func children(named name: String) -> [S3XMLElement] { children.filter { $0.name == name } }

    /// The text of the first child named `name`.
    func text(of name: String) -> String? { child(name)?.text }
}

/// Parsing and writing the XML S3 speaks.
enum S3XML {
    /// Parses a whole document into its root element.
    /// - Throws: `ObjectStoreError` (`invalidResponse`) when the bytes are not well-formed XML.
    static func parse(_ buffer: ByteBuffer, what: String) throws -> S3XMLElement {
        let parser = XMLParser(data: Data(buffer.readableBytesView))
        parser.shouldProcessNamespaces = false
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"
            throw ObjectStoreError(
                code: .invalidResponse,
                message:
                    "the store's \(what) response is not valid XML (\(reason)); check that the endpoint is an S3-compatible store"
            )
        }
        return root
    }

    /// Escapes text for an XML element's content.
    static func escape(_ text: String) -> String {
        escapeMarkup(text, apostrophe: "&apos;")
    }

    /// Builds the element tree from parser events. Used by one parser on
    /// one thread, synchronously inside `parse`.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [S3XMLElement] = []
        var root: S3XMLElement?

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(S3XMLElement(name: elementName, text: "", children: []))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, foundCDATA block: Data) {
            guard !stack.isEmpty else { return }
            stack[stack.count - 1].text += String(decoding: block, as: UTF8.self)
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            guard let element = stack.popLast() else { return }
            if stack.isEmpty {
                root = element
            } else {
                stack[stack.count - 1].children.append(element)
            }
        }
    }
}
