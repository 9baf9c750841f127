package updates

import "context"

// CatalogID returns the catalogue id ("portal") of the app that id names: the id itself, or
// the Android package name or iOS bundle id that devices report in their check-ins and
// feedback. An id no app claims is returned as it is; so is every id while the view cannot be
// loaded.
func (s *Service) CatalogID(ctx context.Context, id string) string {
	snap, err := s.View.Current(ctx)
	if err != nil {
		return id
	}
	return snap.CatalogID(id)
}

// CatalogID is Service.CatalogID on this snapshot.
func (s *Snapshot) CatalogID(id string) string {
	if _, ok := s.apps[id]; ok {
		return id
	}
	for _, a := range s.apps {
		if id != "" && (a.app.AndroidPackage == id || a.app.IOSBundleID == id) {
			return a.app.ID
		}
	}
	return id
}
