"""Every word the web page shows that the diagnosis does not already provide, in ja and en.

Stage names, status words, verdicts and cause texts come from
`pop3doctor.diagnosis.text` and the knowledge base; this module holds only the
page's own labels, hints and messages.
"""

from __future__ import annotations

from pop3doctor.i18n import Msg

#: Labels and hints rendered into the page (template name -> text).
UI: dict[str, Msg] = {
    "title": Msg("メール受信チェック（POP3）", "Mail receiving check (POP3)"),
    "intro": Msg(
        "メールを受信できないときに、原因と直し方を調べます。メールアドレスとパスワードを入力して"
        "「チェック開始」を押してください。",
        "Find out why your mail program cannot receive mail, and what to change. "
        "Enter your e-mail address and password, then press \"Start check\".",
    ),
    "privacy": Msg(
        "このページはお使いのパソコンの中だけで動いています。パスワードはこのチェックに一度だけ使い、"
        "保存も表示もしません。",
        "This page runs on your own computer only. Your password is used for this one check "
        "and is never saved or shown.",
    ),
    "language": Msg("表示言語", "Language"),
    "email": Msg("メールアドレス", "E-mail address"),
    "password": Msg("パスワード", "Password"),
    "password_hint": Msg(
        "メールソフトに設定しているパスワードです（Gmail などで 2 段階認証を使っている場合はアプリパスワード）。",
        "The password set in your mail program (an app password if you use 2-step verification, e.g. Gmail).",
    ),
    "show_password": Msg("パスワードを表示する", "Show the password"),
    "advanced": Msg("サーバーの設定（詳細）", "Server settings (advanced)"),
    "advanced_required": Msg(
        "この版では、メールアドレスからサーバーの設定を自動で調べることはできません。"
        "プロバイダーから届いた設定（受信メールサーバー名など）をここに入力してください。",
        "This version cannot look up the server settings from the e-mail address. "
        "Enter the settings your provider gave you (incoming mail server name etc.) here.",
    ),
    "advanced_optional": Msg(
        "空欄のままなら、メールアドレスから自動で調べます。メールソフトに入力済みの設定を確かめたいときは、"
        "ここに入力してください。",
        "Leave these empty to look them up from the e-mail address. Fill them in to check the "
        "settings already entered in your mail program.",
    ),
    "host": Msg("受信メールサーバー（POP3）", "Incoming mail server (POP3)"),
    "host_hint": Msg("例: pop.example.jp", "e.g. pop.example.com"),
    "port": Msg("ポート番号", "Port"),
    "port_hint": Msg(
        "空欄なら SSL/TLS は 995、それ以外は 110 を使います。",
        "Empty: 995 for SSL/TLS, 110 otherwise.",
    ),
    "security": Msg("暗号化方法", "Connection security"),
    "security_auto": Msg("自動", "Automatic"),
    "user": Msg("ユーザー名（アカウント名）", "User name (account)"),
    "user_hint": Msg("空欄ならメールアドレスを使います。", "Empty: the e-mail address is used."),
    "extra_ports": Msg("ほかに試すポート", "Other ports to try"),
    "extra_ports_hint": Msg(
        "設定の候補を探すとき、995 と 110 のほかに試すポート番号（カンマ区切り）。通常は空欄で構いません。",
        "Port numbers to try besides 995 and 110 when looking for working settings "
        "(comma-separated). Usually leave empty.",
    ),
    "start": Msg("チェック開始", "Start check"),
    "checking": Msg("チェック中…", "Checking…"),
    "steps": Msg("チェックの進み具合", "Checks"),
    "pending": Msg("待機中", "Waiting"),
    "not_reached": Msg("未実施", "Not checked"),
    "settings_used": Msg("チェックする設定", "Settings being checked"),
    "source": Msg("設定の出どころ", "Where they came from"),
    "source_manual": Msg("入力された設定", "Entered by you"),
    "result": Msg("結果", "Result"),
    "cause": Msg("原因", "Cause"),
    "fix": Msg("直し方", "How to fix it"),
    "enter_verified": Msg(
        "メールソフトにはこの設定を入力してください（動作を確認済み）",
        "Enter these settings in your mail program (verified to work)",
    ),
    "enter_suggested": Msg(
        "メールソフトの設定をこう変えてください（サーバーへの接続を確認済み）",
        "Change your mail program's settings to these (the server answered with them)",
    ),
    "enter_checked": Msg(
        "チェックした設定（上の「直し方」に従って直してください）",
        "The settings checked (change them as described under \"How to fix it\")",
    ),
    "row_host": Msg("受信メールサーバー（POP3）", "Incoming mail server (POP3)"),
    "row_port": Msg("ポート番号", "Port"),
    "row_security": Msg("暗号化方法", "Connection security"),
    "row_user": Msg("ユーザー名", "User name"),
    "row_password": Msg("パスワード", "Password"),
    "row_password_value": Msg("（お使いのパスワード）", "(your password)"),
    "changed": Msg("← ここを変更", "← change this"),
    "use_suggested": Msg("この設定でもう一度チェック", "Check again with these settings"),
    "again": Msg("もう一度チェック", "Check again"),
    "again_hint": Msg(
        "メールソフトやアカウントの設定を直したら、もう一度チェックして受信できることを確かめてください。",
        "After changing your mail program or account, check again to confirm that mail can be received.",
    ),
    "copy_report": Msg("サポート用レポートをコピー", "Copy support report"),
    "copied": Msg(
        "コピーしました。プロバイダーのサポートへのメールなどに貼り付けてください。",
        "Copied. Paste it into your message to your provider's support.",
    ),
    "copy_failed": Msg(
        "コピーできませんでした。下の欄から選択してコピーしてください。",
        "Could not copy. Select the text in the box below and copy it.",
    ),
    "show_report": Msg("レポートの内容を見る（パスワードは含まれません）", "Show the report (it contains no password)"),
    "report_label": Msg("サポート用レポート", "Support report"),
    "noscript": Msg(
        "このページには JavaScript が必要です。",
        "This page needs JavaScript.",
    ),
    "footer": Msg(
        "pop3doctor はこのパソコン（127.0.0.1）で動いています。終了するには、起動した画面で Ctrl+C を押してください。",
        "pop3doctor runs on this computer (127.0.0.1). To stop it, press Ctrl+C where you started it.",
    ),
    "error_generic": Msg(
        "チェックを実行できませんでした。ページを再読み込みしてやり直してください。",
        "The check could not run. Reload the page and try again.",
    ),
    "error_connection": Msg(
        "pop3doctor との接続が切れました。pop3doctor web が動いているか確かめて、ページを再読み込みしてください。",
        "Lost the connection to pop3doctor. Check that pop3doctor web is still running and reload the page.",
    ),
}

# Validation and refusal messages (returned as JSON errors, shown in the page).
NEED_EMAIL_OR_USER = Msg(
    "メールアドレスを入力してください。", "Enter your e-mail address."
)
BAD_EMAIL = Msg(
    "メールアドレスの形式が正しくありません（例: taro@example.jp）。",
    "That does not look like an e-mail address (e.g. taro@example.com).",
)
NEED_HOST = Msg(
    "「受信メールサーバー（POP3）」を入力してください（「サーバーの設定（詳細）」の中）。",
    "Enter the \"Incoming mail server (POP3)\" (under \"Server settings (advanced)\").",
)
BAD_HOST = Msg(
    "受信メールサーバー名に使えない文字が含まれています。",
    "The incoming mail server name contains characters a server name cannot have.",
)
BAD_PORT = Msg("ポート番号は 1〜65535 の数字で入力してください。", "A port is a number from 1 to 65535.")
BAD_SECURITY = Msg("暗号化方法を選んでください。", "Choose a connection security.")
BUSY = Msg(
    "チェックを実行中です。終わるまでお待ちください。",
    "A check is already running. Please wait for it to finish.",
)
STALE_PAGE = Msg(
    "このページは古くなっています（pop3doctor が再起動されました）。ページを再読み込みしてください。",
    "This page is out of date (pop3doctor was restarted). Please reload the page.",
)
BAD_HOST_HEADER = Msg(
    "このアドレスからは利用できません。http://127.0.0.1 で開いてください。",
    "Not available at this address. Open it at http://127.0.0.1.",
)
DISCOVERY_FAILED = Msg(
    "メールアドレスからサーバーの設定を見つけられませんでした。「サーバーの設定（詳細）」に入力してください。",
    "Could not find the server settings for this e-mail address. Enter them under \"Server settings (advanced)\".",
)
NO_POP = Msg(
    "このメールアドレスのプロバイダーは POP3 での受信に対応していないようです。"
    "IMAP やウェブメールで受信してください。別のサーバーを使う場合は「サーバーの設定（詳細）」に入力してください。",
    "This address's provider does not seem to offer POP3. Use IMAP or webmail instead; "
    "to check another server, enter it under \"Server settings (advanced)\".",
)
RUN_FAILED = Msg(
    "チェックの途中で予期しないエラーが起きました（{error}）。",
    "The check stopped with an unexpected error ({error}).",
)

# Terminal messages of ``pop3doctor web``.
SERVING = Msg(
    "pop3doctor web: ブラウザーで {url} を開いてください（終了は Ctrl+C）",
    "pop3doctor web: open {url} in your browser (Ctrl+C to stop)",
)
