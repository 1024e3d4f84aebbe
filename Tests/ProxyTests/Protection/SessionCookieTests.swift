import Crypto
import Foundation
import NIOCore
import Testing

@testable import Proxy

@Suite struct SessionCookieTests {
    static var key: SymmetricKey { SymmetricKey(data: Data(repeating: 7, count: 32)) }
    static let now = Date(timeIntervalSince1970: 1_750_000_000)
    static let cookie = SessionCookie(siteID: "site1", host: "docs.apps.test", version: 2, expires: 1_750_000_600)

    static func admits(
        _ field: String, keys: [SymmetricKey] = [key], host: String = "docs.apps.test",
        siteID: String = "site1", version: Int = 2, now: Date = now
    ) -> Bool {
        SessionCookie.admits(cookieFields: [field], keys: keys, siteID: siteID, host: host, version: version, now: now)
    }

    @Test func aSignedCookieAdmitsItsSiteHostAndVersionUntilItExpires() {
        let field = "theme=dark; \(SessionCookie.name)=\(Self.cookie.value(key: Self.key)); other=1"
        #expect(Self.admits(field))
        #expect(!Self.admits(field, host: "1--docs.apps.test"))
        #expect(!Self.admits(field, siteID: "site2"))
        #expect(!Self.admits(field, version: 3))
        #expect(!Self.admits(field, now: Self.now.addingTimeInterval(600)))
        #expect(!Self.admits("theme=dark"))
    }

    @Test func aChangedByteOrAnotherKeyIsNoCookie() {
        let value = Self.cookie.value(key: Self.key)
        var bytes = Array(value.utf8)
        bytes[3] = bytes[3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(!Self.admits("\(SessionCookie.name)=\(String(decoding: bytes, as: UTF8.self))"))
        #expect(!Self.admits("\(SessionCookie.name)=\(value)", keys: [SymmetricKey(size: .bits256)]))
        // A payload naming another host, re-encoded without a new MAC.
        let forged = SessionCookie(siteID: "site1", host: "evil.apps.test", version: 2, expires: 1_750_000_600)
        let forgedPayload = forged.value(key: Self.key).split(separator: ".")[0]
        let mac = value.split(separator: ".")[1]
        #expect(!Self.admits("\(SessionCookie.name)=\(forgedPayload).\(mac)", host: "evil.apps.test"))
        #expect(!Self.admits("\(SessionCookie.name)=not-a-cookie"))
    }

    @Test func cookiesOfAnOldKeyStillAdmitAfterARotation() {
        let old = SymmetricKey(size: .bits256)
        let field = "\(SessionCookie.name)=\(Self.cookie.value(key: old))"
        #expect(Self.admits(field, keys: [Self.key, old]))
        #expect(!Self.admits(field, keys: [Self.key]))
    }

    @Test func theSetCookieIsHostOnlyHttpOnlyLaxAndSecureOnlyOverHTTPS() {
        let plain = Self.cookie.setCookie(key: Self.key, maxAge: 600, secure: false)
        #expect(plain.hasPrefix("\(SessionCookie.name)="))
        #expect(plain.hasSuffix("; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"))
        #expect(!plain.lowercased().contains("domain"))
        #expect(Self.cookie.setCookie(key: Self.key, maxAge: 600, secure: true).hasSuffix("; Secure"))
        #expect(SessionCookie.clearing(secure: false).contains("Max-Age=0"))
    }
}

@Suite struct SignInFormTests {
    @Test func returnPathsStayOnTheSameHost() {
        #expect(ReturnPath.sanitize("/docs/page?x=1#top") == "/docs/page?x=1#top")
        #expect(ReturnPath.sanitize("/") == "/")
        for attack in [
            "//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com", "evil.com", "", "/\t/evil.com",
            "/ /x", "javascript:alert(1)", "/.slipway/auth", "/.slipway/logout?x", String(repeating: "/a", count: 2000),
        ] {
            #expect(ReturnPath.sanitize(attack) == "/", "\(attack)")
        }
    }

    @Test func theFormIsURLEncodedWithAPasswordAndAReturnPath() {
        let body = ByteBuffer(string: "return=%2F%2Fevil.com&password=p%C3%A4ss+word%26more")
        let form = SignInForm(contentType: "application/x-www-form-urlencoded; charset=UTF-8", body: body)
        #expect(form == SignInForm(password: "päss word&more", returnPath: "/"))
        let back = SignInForm(
            contentType: "application/x-www-form-urlencoded", body: ByteBuffer(string: "password=x&return=%2Fa%2Fb"))
        #expect(back?.returnPath == "/a/b")
        #expect(SignInForm(contentType: "text/plain", body: body) == nil)
        #expect(SignInForm(contentType: nil, body: body) == nil)
        #expect(
            SignInForm(contentType: "application/x-www-form-urlencoded", body: ByteBuffer(string: "return=/")) == nil)
        #expect(
            SignInForm(contentType: "application/x-www-form-urlencoded", body: ByteBuffer(string: "password=%zz"))
                == nil)
    }
}
