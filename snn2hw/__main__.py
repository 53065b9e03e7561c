from snn2hw.cli import main

main()
