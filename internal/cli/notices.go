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

// systemFonts are TrueType fonts that Debian and Ubuntu install, by the
// scripts they add to the built-in Go fonts; when --pdf-font names none,
// PDF exports use the first usable one of each group.
var systemFonts = []struct {
	scripts string
	files   []string
}{
	{"Chinese, Japanese and Korean", []string{
		"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
		"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	}},
	{"Arabic, Persian and Hebrew", []string{
		"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
		"/usr/share/fonts/truetype/freefont/FreeSans.ttf",
	}},
}

// pdfFonts reads the fonts for PDF exports: those named by --pdf-font (each
// must be usable), else the first usable system font of each group of
// systemFonts, else none.
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
	for _, g := range systemFonts {
		for _, f := range g.files {
			if b, err := os.ReadFile(f); err == nil && export.CheckFont(b) == nil {
				log.Info("PDF exports use a system font for "+g.scripts, slog.String("font", f))
				out = append(out, b)
				break
			}
		}
	}
	if len(out) == 0 {
		log.Info("PDF exports print Latin, Greek and Cyrillic; name a TrueType font with --pdf-font for other scripts")
	}
	return out, nil
}
