"""Every text discovery shows a user, in Japanese and English."""

from __future__ import annotations

from pop3doctor.i18n import Msg

# --- source details -----------------------------------------------------------
PROVIDER_MATCH = Msg("内蔵の事業者データに一致: {name}", "matches bundled provider data: {name}")
AUTOCONFIG_FOUND = Msg("設定ファイルを取得: {url}", "configuration file found: {url}")
AUTOCONFIG_NO_POP = Msg("{url} に POP3 の設定はありません", "{url} has no POP3 settings")
AUTOCONFIG_FAILED = Msg("{url}: {reason}", "{url}: {reason}")
SRV_FOUND = Msg("SRV レコード {name}: {target} ポート {port}", "SRV record {name}: {target} port {port}")
SRV_NOT_OFFERED = Msg(
    "SRV レコード {name} は「提供なし」（ターゲット \".\"）", "SRV record {name} says not offered (target \".\")"
)
SRV_OUTSIDE = Msg(
    "SRV のサーバー {target} はドメイン {domain} の外にあります（DNS は改ざんされうるため確認してください）",
    "SRV target {target} is outside {domain} (DNS can be spoofed: confirm it)",
)
MX_FOUND = Msg("MX {mx} は {name} のメールサーバーです", "MX {mx} belongs to {name}")
MX_UNKNOWN = Msg("MX {mx} の事業者は不明です", "MX {mx}: provider not known")
DNS_FAILED = Msg("DNS 問い合わせ {name} {rdtype} に失敗: {reason}", "DNS query {name} {rdtype} failed: {reason}")
GUESS_OK = Msg("{host}:{port}（{security}）が POP3 で応答", "{host}:{port} ({security}) answered as POP3")
GUESS_FAILED = Msg("{host}:{port}（{security}）: {cause}", "{host}:{port} ({security}): {cause}")
GUESS_SILENT = Msg(
    "{count} 件の候補が制限時間内に応答しませんでした", "{count} candidate(s) did not answer in time"
)
SOURCE_TIMEOUT = Msg("制限時間内に終わりませんでした", "did not finish in time")
SOURCE_SKIPPED = Msg("優先度の高い情報源が先に答えたため省略", "skipped: a higher-priority source answered first")

# --- autoconfig failure reasons ------------------------------------------------
HTTP_STATUS = Msg("HTTP ステータス {status}", "HTTP status {status}")
HTTP_TOO_LARGE = Msg("応答が大きすぎます（上限 {limit} バイト）", "response too large (limit {limit} bytes)")
HTTP_ERROR = Msg("取得できません（{kind}）", "could not fetch ({kind})")
XML_REFUSED = Msg("XML を拒否しました: {reason}", "XML refused: {reason}")
XML_NOT_CONFIG = Msg("clientConfig 形式ではありません", "not a clientConfig document")
BAD_SERVER_ENTRY = Msg("不正なサーバー項目を無視: {reason}", "ignored an invalid server entry: {reason}")

# --- warnings not taken from the provider table ---------------------------------
PLAINTEXT_ONLY = Msg(
    "この事業者は暗号化なし（平文）の POP3 しか案内していません。パスワードが暗号化されずに送られます。",
    "This provider documents only unencrypted POP3: the password would travel in clear text.",
)
POP_MUST_BE_ENABLED = Msg(
    "事業者の案内: 最初にウェブメールの設定で POP（外部アプリからのアクセス）を有効にする必要があります。",
    "The provider says POP (access from other mail programs) must first be enabled in the webmail settings.",
)
OAUTH_ONLY = Msg(
    "このサーバーはパスワードでのログインを受け付けず、OAuth2 でのログインだけを案内しています。",
    "This server no longer takes a password login: only OAuth2 sign-in is offered.",
)
HTTP_INSECURE = Msg(
    "設定ファイルは暗号化されていない HTTP で取得しました。途中で書き換えられていないか確認してください。",
    "The configuration came over unencrypted HTTP: check that it was not tampered with.",
)
SRV_NO_POP = Msg(
    "このドメインの DNS（SRV レコード）は POP3 を提供していないと宣言しています。",
    "This domain's DNS (SRV records) declares that POP3 is not offered.",
)
NO_TLS_ONLY_PLAIN = Msg(
    "{host} はポート {port} で暗号化（STLS）を提供していません。平文での設定は提案しません。",
    "{host} offers no encryption (STLS) on port {port}; plain text is not proposed.",
)

# --- the report ---------------------------------------------------------------
TITLE = Msg("{email} の POP3 設定", "POP3 settings for {email}")
CHOSEN = Msg("おすすめの設定", "Recommended settings")
ALTERNATIVES = Msg("ほかの候補", "Alternatives")
WARNINGS = Msg("ログイン前に知っておくこと", "Before the first login")
SOURCES = Msg("調べた情報源", "Sources checked")
NOTHING_FOUND = Msg(
    "設定が見つかりませんでした。事業者の案内（受信メールサーバー名・ポート）を確認してください。",
    "No settings found. Check your provider's instructions (incoming server name and port).",
)
NO_POP = Msg("この事業者は POP3 を提供していません。", "This provider does not offer POP3.")
FIELD_SERVER = Msg("受信メールサーバー (POP3)", "Incoming server (POP3)")
FIELD_PORT = Msg("ポート", "Port")
FIELD_SECURITY = Msg("暗号化", "Security")
FIELD_USER = Msg("ユーザー名", "User name")
FIELD_SOURCE = Msg("情報源", "Source")
ACCOUNT_ID_USER = Msg(
    "（事業者が発行した ID。メールアドレスではありません）", "(an ID your provider issued, not the address)"
)
UNKNOWN_USER_NOTE = Msg(
    "（推定: 多くのサーバーはメールアドレス全体です）", "(assumed: most servers use the whole address)"
)
SECURITY_NAMES = {
    "ssl": Msg("SSL/TLS", "SSL/TLS"),
    "starttls": Msg("STARTTLS", "STARTTLS"),
    "plain": Msg("なし（平文）", "none (plain text)"),
}
SOURCE_NAMES = {
    "provider": Msg("内蔵データ", "bundled knowledge"),
    "autoconfig": Msg("自動設定ファイル", "autoconfig"),
    "dns": Msg("DNS (SRV/MX)", "DNS (SRV/MX)"),
    "guess": Msg("接続して確認", "probing"),
}
CONFIDENCE_NAMES = {
    "high": Msg("確度: 高", "confidence: high"),
    "medium": Msg("確度: 中", "confidence: medium"),
    "low": Msg("確度: 低", "confidence: low"),
}
STATUS_NAMES = {
    "answer": Msg("回答あり", "answered"),
    "nothing": Msg("該当なし", "nothing found"),
    "error": Msg("エラー", "error"),
    "timeout": Msg("時間切れ", "timed out"),
    "skipped": Msg("省略", "skipped"),
    "disabled": Msg("無効", "disabled"),
}
VERIFIED = Msg("応答を確認済み", "server answered")
INVALID_ADDRESS = Msg("メールアドレスの形式ではありません: {text}", "not an e-mail address: {text}")
USING_DISCOVERED = Msg(
    "{email} から見つけた設定を使います: {host}:{port}（{security}、{source}）",
    "Using settings discovered for {email}: {host}:{port} ({security}, {source})",
)
