package cli

import (
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"

	"github.com/attache-org/attache/internal/config"
	"github.com/attache-org/attache/internal/db"
	"github.com/attache-org/attache/internal/export"
	"github.com/attache-org/attache/internal/notify"
)

// mailer is where notices go: the SMTP server, or without one, .eml files
// in the mail folder (development and demos).
func mailer(cfg config.Config, log *slog.Logger) (notify.Mailer, error) {
	from := notify.Person{Name: "Attaché", Email: "attache@localhost"}
	if cfg.SMTPFrom != "" {
		a, err := mail.ParseAddress(cfg.SMTPFrom)
		if err != nil {
			return nil, fmt.Errorf("--smtp-from %q: %w", cfg.SMTPFrom, err)
		}
		from = notify.Person{Name: a.Name, Email: a.Address}
	}
	if cfg.SMTP != "" {
		m, err := notify.NewSMTP(notify.SMTPConfig{Addr: cfg.SMTP, From: from, Username: cfg.SMTPUser, Password: cfg.SMTPPassword, TLS: cfg.SMTPTLS})
		if err != nil {
			return nil, fmt.Errorf("mail server: %w", err)
		}
		log.Info("notices by e-mail", slog.String("smtp", cfg.SMTP), slog.String("tls", cfg.SMTPTLS))
		return m, nil
	}
	dir := cfg.MailDir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "outbox")
	}
	m, err := notify.NewDir(dir, from)
	if err != nil {
		return nil, fmt.Errorf("mail folder: %w", err)
	}
	log.Warn("no mail server (--smtp): notices are written as .eml files", slog.String("dir", dir))
	return m, nil
}

// newQueue makes the notice queue; the caller starts and stops it.
func newQueue(cfg config.Config, d *db.DB, rem notify.Reminders, log *slog.Logger) (*notify.Queue, error) {
	m, err := mailer(cfg, log)
	if err != nil {
		return nil, err
	}
	return notify.New(d, m, log, notify.Options{Reminders: rem})
}

// systemCJKFonts are TrueType fonts that Debian and Ubuntu install for
// Chinese, Japanese and Korean; PDF exports use the first one present
// when --pdf-font names none.
var systemCJKFonts = []string{
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
}

// pdfFonts reads the fonts for PDF exports: those named by --pdf-font (each
// must be usable), else the first usable system CJK font, else none.
func pdfFonts(cfg config.Config, log *slog.Logger) ([][]byte, error) {
	var out [][]byte
	for _, f := range cfg.PDFFonts {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--pdf-font: %w", err)
		}
		if err := export.CheckFont(b); err != nil {
			return nil, fmt.Errorf("--pdf-font %s: %w", f, err)
		}
		out = append(out, b)
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, f := range systemCJKFonts {
		if b, err := os.ReadFile(f); err == nil && export.CheckFont(b) == nil {
			log.Info("PDF exports use a system font for Chinese, Japanese and Korean", slog.String("font", f))
			return [][]byte{b}, nil
		}
	}
	log.Info("PDF exports print Latin, Greek and Cyrillic; name a TrueType font with --pdf-font for other scripts")
	return nil, nil
}
