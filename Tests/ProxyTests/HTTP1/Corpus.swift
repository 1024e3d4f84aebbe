/// Requests valid, odd and hostile, for the differential and generated tests.
enum Corpus {
    struct Entry: Sendable {
        var name: String
        var bytes: [UInt8]
    }

    static let host = "Host: a.example\r\n"

    /// A request from its request line, fields and body.
    static func request(_ line: String, _ fields: [String] = ["Host: a.example"], body: String = "") -> [UInt8] {
        Array(text: line + "\r\n" + fields.map { $0 + "\r\n" }.joined() + "\r\n" + body)
    }

    static let browserGET = request(
        "GET /assets/app.css?v=3 HTTP/1.1",
        [
            "Host: a.example",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Accept: text/css,*/*;q=0.1",
            "Accept-Language: en-US,en;q=0.5",
            "Accept-Encoding: gzip, deflate, br, zstd",
            "Connection: keep-alive",
            "Referer: https://a.example/",
            "If-None-Match: \"5f3a-1c\"",
            "If-Modified-Since: Tue, 01 Jul 2025 10:00:00 GMT",
        ])

    static let entries: [Entry] = {
        var list: [Entry] = []
        func add(_ name: String, _ bytes: [UInt8]) { list.append(Entry(name: name, bytes: bytes)) }
        func add(_ name: String, _ text: String) { add(name, Array(text: text)) }
        func get(_ name: String, _ fields: [String], version: String = "HTTP/1.1") {
            add(name, request("GET / \(version)", fields))
        }
        func post(_ name: String, _ fields: [String], body: String, version: String = "HTTP/1.1") {
            add(name, request("POST /.slipway/auth \(version)", ["Host: a.example"] + fields, body: body))
        }

        // Valid requests.
        add("browser GET", browserGET)
        add("minimal GET", request("GET / HTTP/1.1"))
        add("HEAD", request("HEAD /index.html HTTP/1.1"))
        add("OPTIONS origin", request("OPTIONS /x HTTP/1.1"))
        add("PUT no body", request("PUT /x HTTP/1.1"))
        add("DELETE", request("DELETE /x HTTP/1.1"))
        add("PATCH CL", request("PATCH /x HTTP/1.1", ["Host: a.example", "Content-Length: 2"], body: "{}"))
        add("TRACE", request("TRACE / HTTP/1.1"))
        add("PROPFIND (llhttp method)", request("PROPFIND / HTTP/1.1"))
        add("M-SEARCH (llhttp method)", request("M-SEARCH * HTTP/1.1"))
        add("PURGE (llhttp method)", request("PURGE /x HTTP/1.1"))
        add("query and percent", request("GET /a%20b/c.html?x=1&y=%2F;z HTTP/1.1"))
        add("odd target chars", request("GET /!$&'()*+,;=:@-._~[]{}|^`\\ HTTP/1.1"))
        add("host with port", request("GET / HTTP/1.1", ["Host: a.example:8080"]))
        add("host upper case", request("GET / HTTP/1.1", ["HOST: A.EXAMPLE"]))
        add("host IPv6", request("GET / HTTP/1.1", ["Host: [::1]:80"]))
        add("host odd bytes", request("GET / HTTP/1.1", ["Host: a/b\\c"]))
        add("field name odd tchars", request("GET / HTTP/1.1", ["Host: a.example", "X-!#$%&'*+-.^_`|~: 1"]))
        add("empty field value", request("GET / HTTP/1.1", ["Host: a.example", "X-Empty:"]))
        add("value only spaces", request("GET / HTTP/1.1", ["Host: a.example", "X-Spaces:    "]))
        add("value with inner spaces and tabs", request("GET / HTTP/1.1", ["Host: a.example", "X: a \t b"]))
        add("value obs-text UTF-8", request("GET / HTTP/1.1", ["Host: a.example", "X: café"]))
        add(
            "value obs-text 0x80 0xFF",
            Array(text: "GET / HTTP/1.1\r\n\(host)X: a") + [0x80, 0xFF] + Array(text: "\r\n\r\n"))
        add("value tab leading", request("GET / HTTP/1.1", ["Host:\ta.example"]))
        add("value no space", request("GET / HTTP/1.1", ["Host:a.example"]))
        add("value trailing OWS", request("GET / HTTP/1.1", ["Host: a.example", "If-None-Match: \"x\"  \t"]))
        add("host trailing OWS", request("GET / HTTP/1.1", ["Host: a.example  "]))

        // HTTP/1.0.
        get("1.0 with Host", ["Host: a.example"], version: "HTTP/1.0")
        get("1.0 without Host", [], version: "HTTP/1.0")
        get("1.0 keep-alive", ["Host: a.example", "Connection: keep-alive"], version: "HTTP/1.0")
        get("1.0 Keep-Alive casing", ["Host: a.example", "Connection: Keep-Alive"], version: "HTTP/1.0")
        get("1.0 keep-alive in list", ["Host: a.example", "Connection: foo, keep-alive"], version: "HTTP/1.0")
        get("1.0 keep-alive and close", ["Host: a.example", "Connection: keep-alive, close"], version: "HTTP/1.0")
        get("1.0 close", ["Host: a.example", "Connection: close"], version: "HTTP/1.0")
        post("1.0 CL body", ["Content-Length: 3"], body: "a=b", version: "HTTP/1.0")
        post("1.0 chunked", ["Transfer-Encoding: chunked"], body: "0\r\n\r\n", version: "HTTP/1.0")
        post("1.0 TE identity", ["Transfer-Encoding: identity"], body: "", version: "HTTP/1.0")

        // Keep-alive variants (HTTP/1.1).
        get("close", ["Host: a.example", "Connection: close"])
        get("Close casing", ["Host: a.example", "Connection: CLOSE"])
        get("close in list", ["Host: a.example", "Connection: foo, close"])
        get("close with OWS", ["Host: a.example", "Connection:  close  ,  x"])
        get("close in second field", ["Host: a.example", "Connection: foo", "Connection: close"])
        get("closed is not close", ["Host: a.example", "Connection: closed"])
        get("keep-alive 1.1", ["Host: a.example", "Connection: keep-alive"])
        get("close and keep-alive 1.1", ["Host: a.example", "Connection: close, keep-alive"])
        get("empty Connection", ["Host: a.example", "Connection:"])
        get("close after tab", ["Host: a.example", "Connection: foo,\tclose"])
        get("close before tab", ["Host: a.example", "Connection: close\t"])
        get("1.0 keep-alive tab", ["Host: a.example", "Connection: keep-alive\t"], version: "HTTP/1.0")

        // Expect.
        post("Expect 100-continue CL", ["Expect: 100-continue", "Content-Length: 5"], body: "hello")
        post("Expect 100-Continue casing", ["Expect: 100-Continue", "Content-Length: 5"], body: "hello")
        post("Expect CL 0", ["Expect: 100-continue", "Content-Length: 0"], body: "")
        post("Expect chunked", ["Expect: 100-continue", "Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n\r\n")
        post("Expect other with body", ["Expect: foo", "Content-Length: 5"], body: "hello")
        get("Expect without body", ["Host: a.example", "Expect: 100-continue"])

        // Content-Length.
        post("CL body", ["Content-Length: 5"], body: "hello")
        post("CL 0", ["Content-Length: 0"], body: "")
        post("CL leading zeros", ["Content-Length: 0005"], body: "hello")
        post("CL OWS", ["Content-Length:   5  "], body: "hello")
        post("CL leading tab", ["Content-Length:\t5"], body: "hello")
        post("CL trailing tab", ["Content-Length: 5\t"], body: "hello")
        post("CL duplicate equal", ["Content-Length: 5", "Content-Length: 5"], body: "hello")
        post("CL duplicate different", ["Content-Length: 5", "Content-Length: 6"], body: "hello!")
        post("CL list", ["Content-Length: 5, 5"], body: "hello")
        post("CL plus", ["Content-Length: +5"], body: "hello")
        post("CL minus", ["Content-Length: -1"], body: "")
        post("CL empty", ["Content-Length:"], body: "")
        post("CL letters", ["Content-Length: 5a"], body: "hello")
        post("CL hex", ["Content-Length: 0x5"], body: "hello")
        post("CL inner space", ["Content-Length: 1 0"], body: "0123456789")
        post("CL 18 digits", ["Content-Length: 000000000000000005"], body: "hello")
        post("CL 19 digits", ["Content-Length: 0000000000000000005"], body: "hello")
        post("CL huge", ["Content-Length: 99999999999999999999999"], body: "")
        post("CL at body limit", ["Content-Length: 1024"], body: String(repeating: "a", count: 1024))
        post("CL over body limit", ["Content-Length: 1025"], body: String(repeating: "a", count: 1025))
        post("CL and TE", ["Content-Length: 5", "Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n\r\n")
        post("TE and CL", ["Transfer-Encoding: chunked", "Content-Length: 5"], body: "5\r\nhello\r\n0\r\n\r\n")
        post("CL name casing", ["content-LENGTH: 5"], body: "hello")
        post("CL space before colon", ["Content-Length : 5"], body: "hello")

        // Transfer-Encoding.
        let chunkedHello = "5\r\nhello\r\n0\r\n\r\n"
        post("TE chunked", ["Transfer-Encoding: chunked"], body: chunkedHello)
        post("TE Chunked casing", ["Transfer-Encoding: Chunked"], body: chunkedHello)
        post("TE trailing space", ["Transfer-Encoding: chunked "], body: chunkedHello)
        post("TE tab before value", ["Transfer-Encoding:\tchunked"], body: chunkedHello)
        post("TE tab after value", ["Transfer-Encoding: chunked\t"], body: chunkedHello)
        post("TE space and tab after value", ["Transfer-Encoding: chunked \t "], body: chunkedHello)
        post("TE name casing", ["Transfer-encoding: chunked"], body: chunkedHello)
        post("TE space before colon", ["Transfer-Encoding : chunked"], body: chunkedHello)
        post("TE chunked twice in list", ["Transfer-Encoding: chunked, chunked"], body: chunkedHello)
        post("TE gzip chunked", ["Transfer-Encoding: gzip, chunked"], body: chunkedHello)
        post("TE xchunked", ["Transfer-Encoding: xchunked"], body: chunkedHello)
        post("TE chunked param", ["Transfer-Encoding: chunked;x"], body: chunkedHello)
        post("TE identity", ["Transfer-Encoding: identity"], body: "")
        post("TE chunked identity", ["Transfer-Encoding: chunked, identity"], body: chunkedHello)
        post("TE two fields", ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], body: chunkedHello)
        post("TE empty", ["Transfer-Encoding:"], body: "")
        post("TE obs-fold", ["Transfer-Encoding:", " chunked"], body: chunkedHello)

        // Chunked bodies.
        post("chunked two chunks", ["Transfer-Encoding: chunked"], body: "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        post("chunked upper hex", ["Transfer-Encoding: chunked"], body: "A\r\n0123456789\r\n0\r\n\r\n")
        post("chunked 16 digit size", ["Transfer-Encoding: chunked"], body: "0000000000000005\r\nhello\r\n0\r\n\r\n")
        post("chunked 17 digit size", ["Transfer-Encoding: chunked"], body: "00000000000000005\r\nhello\r\n0\r\n\r\n")
        post("chunked size overflow", ["Transfer-Encoding: chunked"], body: "fffffffffffffffff\r\nhello\r\n0\r\n\r\n")
        post("chunked ext", ["Transfer-Encoding: chunked"], body: "5;a=b\r\nhello\r\n0;last\r\n\r\n")
        post("chunked ext quoted", ["Transfer-Encoding: chunked"], body: "5;a=\"b; c\\\"\"\r\nhello\r\n0\r\n\r\n")
        post("chunked ext two", ["Transfer-Encoding: chunked"], body: "5;a;b=c\r\nhello\r\n0\r\n\r\n")
        post("chunked ext space before", ["Transfer-Encoding: chunked"], body: "5 ;a=b\r\nhello\r\n0\r\n\r\n")
        post("chunked ext space after", ["Transfer-Encoding: chunked"], body: "5; a=b\r\nhello\r\n0\r\n\r\n")
        post("chunked ext empty value", ["Transfer-Encoding: chunked"], body: "5;a=\r\nhello\r\n0\r\n\r\n")
        post("chunked ext empty name", ["Transfer-Encoding: chunked"], body: "5;\r\nhello\r\n0\r\n\r\n")
        post("chunked ext only value", ["Transfer-Encoding: chunked"], body: "5;=b\r\nhello\r\n0\r\n\r\n")
        post("chunked ext empty value then more", ["Transfer-Encoding: chunked"], body: "5;a=;b\r\nhello\r\n0\r\n\r\n")
        post("chunked ext trailing semicolon", ["Transfer-Encoding: chunked"], body: "5;a=b;\r\nhello\r\n0\r\n\r\n")
        post("chunked ext after quoted", ["Transfer-Encoding: chunked"], body: "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n")
        post(
            "chunked ext long", ["Transfer-Encoding: chunked"],
            body: "5;a=" + String(repeating: "b", count: 2000) + "\r\nhello\r\n0\r\n\r\n")
        post("chunked size space", ["Transfer-Encoding: chunked"], body: "5 \r\nhello\r\n0\r\n\r\n")
        post("chunked size empty", ["Transfer-Encoding: chunked"], body: "\r\nhello\r\n0\r\n\r\n")
        post("chunked size negative", ["Transfer-Encoding: chunked"], body: "-5\r\nhello\r\n0\r\n\r\n")
        post("chunked size 0x", ["Transfer-Encoding: chunked"], body: "0x5\r\nhello\r\n0\r\n\r\n")
        post("chunked data too long", ["Transfer-Encoding: chunked"], body: "5\r\nhelloX\r\n0\r\n\r\n")
        post("chunked data LF only", ["Transfer-Encoding: chunked"], body: "5\r\nhello\n0\r\n\r\n")
        post("chunked size LF only", ["Transfer-Encoding: chunked"], body: "5\nhello\r\n0\r\n\r\n")
        post("chunked trailer", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n")
        post("chunked trailer obs-fold", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nX: 1\r\n 2\r\n\r\n")
        post("chunked trailer NUL", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nX: \u{0}\r\n\r\n")
        post("chunked trailer no colon", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nX\r\n\r\n")
        post(
            "chunked trailer TE", ["Transfer-Encoding: chunked"],
            body: "5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n")
        post("chunked trailer Host", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nHost: b.example\r\n\r\n")
        post("chunked trailer CL", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n")
        post("chunked last without end", ["Transfer-Encoding: chunked"], body: "5\r\nhello\r\n0\r\n")
        post(
            "chunked at body limit", ["Transfer-Encoding: chunked"],
            body: "400\r\n" + String(repeating: "a", count: 1024) + "\r\n0\r\n\r\n")
        post(
            "chunked over body limit", ["Transfer-Encoding: chunked"],
            body: "400\r\n" + String(repeating: "a", count: 1024) + "\r\n1\r\nb\r\n0\r\n\r\n")
        post("chunked big declared", ["Transfer-Encoding: chunked"], body: "100000\r\nabc")

        // Host.
        get("no Host", ["Accept: */*"])
        get("empty Host", ["Host:"])
        get("Host spaces only", ["Host:    "])
        get("two Hosts equal", ["Host: a.example", "Host: a.example"])
        get("two Hosts different", ["Host: a.example", "Host: b.example"])
        get("Host space before colon", ["Host : a.example"])
        get("Host list", ["Host: a.example, b.example"])

        // Request targets.
        add("asterisk OPTIONS", request("OPTIONS * HTTP/1.1"))
        add("asterisk GET", request("GET * HTTP/1.1"))
        add("authority form CONNECT", request("CONNECT a.example:443 HTTP/1.1"))
        add("authority form GET", request("GET a.example:80 HTTP/1.1"))
        add("absolute same host", request("GET http://a.example/x?y=1 HTTP/1.1"))
        add("absolute same host https", request("GET https://a.example/x HTTP/1.1"))
        add("absolute upper scheme and host", request("GET HTTP://A.EXAMPLE/x HTTP/1.1"))
        add("absolute with port", request("GET http://a.example:8080/x HTTP/1.1"))
        add("absolute trailing dot", request("GET http://a.example./x HTTP/1.1"))
        add("absolute other host", request("GET http://b.example/x HTTP/1.1"))
        add("absolute userinfo", request("GET http://user:pw@a.example/x HTTP/1.1"))
        add("absolute no path", request("GET http://a.example HTTP/1.1"))
        add("absolute query only", request("GET http://a.example?q=1 HTTP/1.1"))
        add("absolute empty authority", request("GET http:///x HTTP/1.1"))
        add("absolute bad port", request("GET http://a.example:80x/ HTTP/1.1"))
        add("absolute ftp", request("GET ftp://a.example/ HTTP/1.1"))
        add("absolute host trailing OWS", request("GET http://a.example/ HTTP/1.1", ["Host: a.example "]))
        add("absolute IPv6", request("GET http://[::1]/ HTTP/1.1", ["Host: [::2]"]))
        add("absolute IPv6 bad char", request("GET http://[{:1]/ HTTP/1.1", ["Host: [::2]"]))
        add("absolute IPv6 odd chars", request("GET http://[f,e:;1[]/ HTTP/1.1", ["Host: [::2]"]))
        add("absolute IPv6 zone", request("GET http://[fe80::1%25eth0]/ HTTP/1.1", ["Host: [::2]"]))
        add("absolute IPv6 port", request("GET http://[::1]:8080/ HTTP/1.1", ["Host: [::1]"]))
        add("relative path", request("GET index.html HTTP/1.1"))
        add("target fragment", request("GET /a#b HTTP/1.1"))
        add("target UTF-8", request("GET /café HTTP/1.1"))
        add("target DEL", Array(text: "GET /a") + [0x7F] + Array(text: " HTTP/1.1\r\n\(host)\r\n"))
        add("target NUL", Array(text: "GET /a\u{0} HTTP/1.1\r\n\(host)\r\n"))
        add("target tab", request("GET /a\tb HTTP/1.1"))
        add("empty target", request("GET  HTTP/1.1"))
        add("double space before target", request("GET  / HTTP/1.1"))
        add("double space before version", request("GET /  HTTP/1.1"))
        add("space after version", request("GET / HTTP/1.1 "))
        add("leading space", request(" GET / HTTP/1.1"))

        // Methods.
        add("unknown method", request("FOO / HTTP/1.1"))
        add("lower-case method", request("get / HTTP/1.1"))
        add("method not a token", request("GE(T / HTTP/1.1"))
        add("method with NUL", Array(text: "GE\u{0}T / HTTP/1.1\r\n\(host)\r\n"))

        // Versions.
        add("HTTP/1.0", request("GET / HTTP/1.0"))
        add("HTTP/1.2", request("GET / HTTP/1.2"))
        add("HTTP/2.0", request("GET / HTTP/2.0"))
        add("HTTP/0.9 style", Array(text: "GET /\r\n"))
        add("lower-case version", request("GET / http/1.1"))
        add("version 1.10", request("GET / HTTP/1.10"))
        add("version HTTP/1", request("GET / HTTP/1"))
        add("version garbage", request("GET / XTTP/1.1"))
        add("PRI", Array(text: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))

        // Line endings.
        add("bare LF request line", Array(text: "GET / HTTP/1.1\n\(host)\r\n"))
        add("bare LF field", Array(text: "GET / HTTP/1.1\r\nHost: a.example\n\r\n"))
        add("bare LF end", Array(text: "GET / HTTP/1.1\r\n\(host)\n"))
        add("all bare LF", Array(text: "GET / HTTP/1.1\nHost: a.example\n\n"))
        add("bare CR in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\rb\r\n\r\n"))
        add("bare CR in name", Array(text: "GET / HTTP/1.1\r\n\(host)X\rY: a\r\n\r\n"))
        add("bare CR ending field", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\r\r\n\r\n"))
        add("bare CR end of head", Array(text: "GET / HTTP/1.1\r\n\(host)\r\r\n"))
        add("CR CR LF request line", Array(text: "GET / HTTP/1.1\r\r\n\(host)\r\n"))
        add("one leading CRLF", Array(text: "\r\nGET / HTTP/1.1\r\n\(host)\r\n"))
        add("four leading CRLF", Array(text: "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\(host)\r\n"))
        add("five leading CRLF", Array(text: "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\(host)\r\n"))
        add("leading LF", Array(text: "\nGET / HTTP/1.1\r\n\(host)\r\n"))
        add("leading CR", Array(text: "\rGET / HTTP/1.1\r\n\(host)\r\n"))

        // Field lines.
        add("obs-fold SP", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\r\n b\r\n\r\n"))
        add("obs-fold HTAB", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\r\n\tb\r\n\r\n"))
        add("space after request line", Array(text: "GET / HTTP/1.1\r\n \(host)\r\n"))
        add("space before colon", Array(text: "GET / HTTP/1.1\r\n\(host)X : a\r\n\r\n"))
        add("tab before colon", Array(text: "GET / HTTP/1.1\r\n\(host)X\t: a\r\n\r\n"))
        add("empty name", Array(text: "GET / HTTP/1.1\r\n\(host): a\r\n\r\n"))
        add("no colon", Array(text: "GET / HTTP/1.1\r\n\(host)X-No-Colon\r\n\r\n"))
        add("NUL in name", Array(text: "GET / HTTP/1.1\r\n\(host)X\u{0}Y: a\r\n\r\n"))
        add("NUL in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\u{0}b\r\n\r\n"))
        add("SOH in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\u{1}b\r\n\r\n"))
        add("US in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: a\u{1F}b\r\n\r\n"))
        add("DEL in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: a") + [0x7F] + Array(text: "b\r\n\r\n"))
        add("ESC in value", Array(text: "GET / HTTP/1.1\r\n\(host)X: \u{1B}[31m\r\n\r\n"))
        add("name with paren", Array(text: "GET / HTTP/1.1\r\n\(host)X(Y): a\r\n\r\n"))
        add("name with slash", Array(text: "GET / HTTP/1.1\r\n\(host)X/Y: a\r\n\r\n"))
        add("name with quote", Array(text: "GET / HTTP/1.1\r\n\(host)X\"Y: a\r\n\r\n"))
        add("name with UTF-8", Array(text: "GET / HTTP/1.1\r\n\(host)Xé: a\r\n\r\n"))
        add("name with at", Array(text: "GET / HTTP/1.1\r\n\(host)X@Y: a\r\n\r\n"))

        // The proxy's fields.
        get("AE typical", ["Host: a.example", "Accept-Encoding: gzip, deflate, br, zstd"])
        get("AE gzip q=0", ["Host: a.example", "Accept-Encoding: gzip;q=0, br"])
        get("AE star q=0", ["Host: a.example", "Accept-Encoding: *;q=0"])
        get("AE star", ["Host: a.example", "Accept-Encoding: *"])
        get("AE star with gzip refused", ["Host: a.example", "Accept-Encoding: gzip;q=0, *"])
        get("AE qvalues", ["Host: a.example", "Accept-Encoding: br;q=0.5, gzip;q=0.000, zstd;q=1.0"])
        get("AE identity", ["Host: a.example", "Accept-Encoding: identity"])
        get("AE x-gzip upper", ["Host: a.example", "Accept-Encoding: X-GZIP, BR"])
        get("AE spaces", ["Host: a.example", "Accept-Encoding:  gzip ; q=0.1 ,  br ; Q=0 "])
        get("AE two fields", ["Host: a.example", "Accept-Encoding: gzip", "Accept-Encoding: br;q=0, zstd"])
        get("AE later wins", ["Host: a.example", "Accept-Encoding: gzip, gzip;q=0"])
        get("AE empty elements", ["Host: a.example", "Accept-Encoding: ,, gzip ,;q=0, br;;q=1"])
        get("AE bad q", ["Host: a.example", "Accept-Encoding: gzip;q=abc, br;q=, zstd;q=-1"])
        get("AE empty", ["Host: a.example", "Accept-Encoding:"])
        get("AE empty q trailing OWS", ["Host: a.example", "Accept-Encoding: gzip, br;q= "])
        get("INM list", ["Host: a.example", "If-None-Match: \"a\", W/\"b\""])
        get("INM two fields", ["Host: a.example", "If-None-Match: \"a\"", "If-None-Match: \"b\""])
        get("IMS", ["Host: a.example", "If-Modified-Since: Tue, 01 Jul 2025 10:00:00 GMT"])
        get("IMS twice", ["Host: a.example", "If-Modified-Since: x", "if-modified-since: y"])
        get("Range", ["Host: a.example", "Range: bytes=0-99"])
        get("Range twice", ["Host: a.example", "Range: bytes=0-1", "RANGE: bytes=2-3"])
        get("If-Range", ["Host: a.example", "Range: bytes=0-1", "If-Range: \"abc\""])
        get("Upgrade", ["Host: a.example", "Connection: Upgrade", "Upgrade: websocket"])

        // Limits (defaults: line 8192, fields 32768 as counted, 100 fields, body 1024).
        // A request line of n bytes: "GET " + target + " HTTP/1.1" = target + 13.
        add("line at limit", request("GET /" + String(repeating: "a", count: 8192 - 14) + " HTTP/1.1"))
        add("line over limit", request("GET /" + String(repeating: "a", count: 8192 - 13) + " HTTP/1.1"))
        add("line far over limit", Array(text: "GET /" + String(repeating: "a", count: 9000)))
        // Host (4 + 9 + 4 = 17) plus X (1 + n + 4).
        let fieldRoom = 32768 - 17 - 5
        get("fields at limit", ["Host: a.example", "X: " + String(repeating: "v", count: fieldRoom)])
        get("fields over limit", ["Host: a.example", "X: " + String(repeating: "v", count: fieldRoom + 1)])
        get(
            "fields at limit trailing OWS",
            ["Host: a.example", "X: " + String(repeating: "v", count: fieldRoom - 2) + "  "])
        get(
            "fields over limit trailing OWS",
            ["Host: a.example", "X: " + String(repeating: "v", count: fieldRoom - 1) + "  "])
        get(
            "fields at limit many",
            ["Host: a.example"] + (0..<31).map { "X-\($0 + 10): " + String(repeating: "v", count: 1024 - 8) }
                + ["Y: " + String(repeating: "w", count: 32768 - 17 - 31 * 1024 - 5)])
        get("count at limit", ["Host: a.example"] + (1..<100).map { "X-\($0): \($0)" })
        get("count over limit", ["Host: a.example"] + (1...100).map { "X-\($0): \($0)" })
        get("long name", ["Host: a.example", String(repeating: "N", count: 5000) + ": v"])

        // Upgrade and what follows it.
        add(
            "upgrade then GET",
            request("GET /ws HTTP/1.1", ["Host: a.example", "Connection: upgrade", "Upgrade: websocket"])
                + request("GET /next HTTP/1.1"))
        return list
    }()

    /// Pipelined batches of entries, joined.
    static let batches: [Entry] = {
        func named(_ name: String) -> [UInt8] {
            guard let entry = entries.first(where: { $0.name == name }) else { return Array(text: "missing \(name)") }
            return entry.bytes
        }
        func batch(_ names: [String]) -> Entry {
            Entry(name: names.joined(separator: " + "), bytes: names.flatMap(named))
        }
        return [
            batch(["minimal GET", "browser GET", "HEAD"]),
            batch(["browser GET", "CL body", "chunked two chunks", "minimal GET"]),
            batch(["chunked trailer", "TE chunked", "Expect 100-continue CL", "minimal GET"]),
            batch(["minimal GET", "close", "minimal GET"]),
            batch(["1.0 keep-alive", "1.0 with Host", "minimal GET"]),
            batch(["minimal GET", "bare LF field", "minimal GET"]),
            batch(["CL 0", "one leading CRLF", "query and percent"]),
            batch(["minimal GET", "CL duplicate equal", "minimal GET"]),
            batch(["absolute same host", "absolute other host"]),
            batch(["chunked ext", "CL over body limit"]),
            batch(["minimal GET", "chunked over body limit", "minimal GET"]),
            batch(["minimal GET", "TE gzip chunked"]),
            batch(["AE two fields", "INM two fields", "Range twice", "PATCH CL"]),
            batch(["minimal GET", "unknown method", "minimal GET"]),
            batch(["minimal GET", "target fragment"]),
            batch(["HEAD", "upgrade then GET"]),
            batch(["Expect other with body", "minimal GET"]),
            batch(["minimal GET", "five leading CRLF"]),
            batch(["1.0 keep-alive and close", "minimal GET"]),
            batch(["chunked last without end"]),
        ]
    }()
}
