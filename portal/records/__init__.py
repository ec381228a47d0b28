"""Clinical records: for now the documents the clinic shares with one patient (``PatientDocument``)."""
