"""Words every front end uses for stages, statuses and verdicts, in both languages."""

from __future__ import annotations

from pop3doctor.diagnosis.model import Status
from pop3doctor.i18n import Msg

STAGE_NAMES: dict[str, Msg] = {
    "network": Msg("この端末のネットワーク", "This computer's network"),
    "resolve": Msg("名前解決", "Name lookup"),
    "connect": Msg("接続", "Connection"),
    "tls": Msg("暗号化", "Encryption"),
    "greeting": Msg("サーバー応答", "Greeting"),
    "capabilities": Msg("サーバー機能", "Capabilities"),
    "login": Msg("ログイン", "Login"),
    "mailbox": Msg("受信箱", "Mailbox"),
    "retrieval": Msg("受信テスト", "Retrieval test"),
    "summary": Msg("まとめ", "Summary"),
}

STATUS_WORDS: dict[Status, Msg] = {
    Status.PASS: Msg("OK", "OK"),
    Status.WARN: Msg("注意", "Warning"),
    Status.FAIL: Msg("失敗", "Failed"),
    Status.SKIP: Msg("未実施", "Skipped"),
}

VERDICTS: dict[str, Msg] = {
    "ok": Msg("問題なし: メールを受信できます", "OK: mail can be received"),
    "warning": Msg("注意点があります", "Works, with warnings"),
    "problem": Msg("問題が見つかりました", "Problem found"),
}

SECURITY_LABELS: dict[str, Msg] = {
    "ssl": Msg("SSL/TLS", "SSL/TLS"),
    "starttls": Msg("STARTTLS", "STARTTLS"),
    "plain": Msg("なし", "None"),
}

SUGGESTION = Msg(
    "メールソフトの設定をこう変えてください: サーバー {host} / ポート {port} / 暗号化 {security} / ユーザー名 {user}",
    "Change your mail program's settings to: server {host} / port {port} / security {security} / user name {user}",
)
