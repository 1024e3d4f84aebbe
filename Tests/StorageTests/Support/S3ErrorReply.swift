import NIOHTTP1
import SlipwayTestSupport

extension ScriptedHTTPServer.Reply {
    /// An S3 XML error document with `code`.
    static func s3Error(_ status: HTTPResponseStatus, code: String, message: String = "scripted failure") -> Self {
        .respond(
            status: status, headers: [("content-type", "application/xml")],
            body:
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code><Message>\(message)</Message><RequestId>fake-1</RequestId></Error>"
        )
    }
}
