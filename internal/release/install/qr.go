package install

import (
	"fmt"

	"rsc.io/qr"
)

// QRCodePNG returns a PNG image of a QR code that encodes text, at error-correction level M
// (15% damage tolerated), which phone cameras read easily from a screen.
func QRCodePNG(text string) ([]byte, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("install: QR code: %w", err)
	}
	code.Scale = 6
	return code.PNG(), nil
}
